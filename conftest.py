"""Repo-level glue only. The hubrig plugin itself loads through its pytest11 entry point."""

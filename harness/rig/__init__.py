"""The rig: rig files, opening a rig session, mains control and the command sender."""

"""The instrument families shipped with hubrig, one small module each.

Each module builds a :class:`hubrig.harness.rig.instruments.Family` (rig-file section, openers,
``rig check`` probe) and registers it; the registry imports every module of this package. Driver
modules are imported only when an instrument is opened, so loading the registry stays cheap.
"""

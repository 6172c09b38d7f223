"""A module that fails on import, as a user's model module with a bug would."""

raise RuntimeError("this module is broken on purpose")

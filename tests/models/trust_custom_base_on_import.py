"""Raises a user's own BaseException subclass while imported."""


class Stop(BaseException):
    pass


raise Stop("stopped while importing")

"""Raises a BaseException that is not an Exception while imported."""

import asyncio

raise asyncio.CancelledError("cancelled while importing")

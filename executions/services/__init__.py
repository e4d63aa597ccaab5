"""Writes and state changes: one service function per change (see STYLE.md)."""

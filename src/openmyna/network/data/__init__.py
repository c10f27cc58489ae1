"""Versioned data files of the network (the allow-list, 別表第二)."""

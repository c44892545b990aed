"""Operators: sources, transforms, filters and global steps over Arrow tables (see operators/base.py)."""

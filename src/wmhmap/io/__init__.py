"""Small I/O helpers shared by every stage (atomic writes)."""

from wmhmap.io.atomic import atomic_path, save_nifti, write_table

__all__ = ["atomic_path", "save_nifti", "write_table"]

"""Subpackage; exports are listed in __all__ once its modules land."""

"""The catalog: file records in SQL."""

from filegate.catalog.base import Catalog
from filegate.catalog.sql import SQLCatalog

__all__ = ["Catalog", "SQLCatalog"]

"""The medicine catalog: BDPM import and medication search."""

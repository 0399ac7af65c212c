"""FHIR R4 views of prescriptions and dispensations: pure mappings from records to resources."""

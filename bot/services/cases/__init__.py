"""Case records: cases, reading them, notes, documents, consent by staff, disclosures."""

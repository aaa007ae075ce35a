"""Staff: registration, roles, the policy they sign, what they are drafting."""

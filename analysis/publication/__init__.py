"""Publication gate: small-cell suppression and French number formatting; every published count passes through here."""

"""Organizations (団体): 町会・自治会, NPO, 商店会 ...; memberships and staff verification."""

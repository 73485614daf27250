"""Outcome indicators (成果指標) of the basic plan, policies 9 to 14: catalog, printed values, staff-entered values."""

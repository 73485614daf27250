"""The front door (home page), the header navigation and a workspace page for each role."""

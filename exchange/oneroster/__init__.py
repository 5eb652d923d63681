"""1EdTech OneRoster 1.2 CSV: import a district's set (R50) and export a school's (R51)."""

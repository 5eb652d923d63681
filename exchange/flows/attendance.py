"""R27: the unknown-attendance flow of the nightly exchange (owned by the attendance work)."""

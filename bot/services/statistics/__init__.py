"""Anonymous statistics: events with no link to anyone, and reports with disclosure control."""

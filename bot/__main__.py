"""`python -m bot`: the one entry point."""

from bot.cli import main

raise SystemExit(main())

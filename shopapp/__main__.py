"""`python -m shopapp ...`: see shopapp.cli."""
from shopapp.cli import main

raise SystemExit(main())

"""``python -m mexcsim``: run the simulator until SIGINT/SIGTERM (see ``mexcsim.server.main``)."""

from mexcsim.server import main

raise SystemExit(main())

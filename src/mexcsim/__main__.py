"""``python -m mexcsim``: run the simulator until SIGINT/SIGTERM (``mexcsim.http.command_line``)."""

from mexcsim.http.command_line import main

raise SystemExit(main())

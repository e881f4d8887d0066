from olmo3hpc.cli import main

raise SystemExit(main())

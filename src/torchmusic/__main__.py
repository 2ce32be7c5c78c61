from torchmusic.cli.main import main

raise SystemExit(main())

from vllm_obs.cli import main

raise SystemExit(main())

"""Everything outside the image: job specs, staging, runners, lifecycle, CLI and API."""

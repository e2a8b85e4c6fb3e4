"""Rules: TSAT version rules, GBCS feature gating and the limit sets measurements are judged against."""

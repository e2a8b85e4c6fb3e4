"""Results: measurements judged against limits, statistics, the results document and its store."""

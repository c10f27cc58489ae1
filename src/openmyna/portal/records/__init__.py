"""やりとり履歴 (P2): the person's exchange records from the hub, filtered, paged, exported."""

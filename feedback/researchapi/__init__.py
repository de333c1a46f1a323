"""The researchers' REST API: named API tokens, the accepted live pool filtered and paged, throttling."""

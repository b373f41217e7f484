"""Training the house models: ``campaignbot train copy`` (:mod:`.copy_cli`) and ``campaignbot train
visual`` (:mod:`.visual`)."""

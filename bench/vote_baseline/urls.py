from django.urls import path

from bench.vote_baseline.api import BaselineVoteCreateApi
from config.urls import urlpatterns as platform

urlpatterns = [path("bench/baseline-votes/", BaselineVoteCreateApi.as_view()), *platform]

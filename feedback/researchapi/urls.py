"""The live pool's API (under /api/v1/pool/) and the API-token page (/me/tokens/)."""

from django.urls import path

from feedback.researchapi import api, views

app_name = "researchapi"

urlpatterns = [
    path("api/v1/pool/battles/", api.PoolBattleListApi.as_view(), name="pool-battles"),
    path("api/v1/pool/preferences/", api.PoolPreferenceListApi.as_view(), name="pool-preferences"),
    path("api/v1/pool/unpaired/", api.PoolUnpairedListApi.as_view(), name="pool-unpaired"),
    path("api/v1/pool/message_trees/", api.PoolMessageTreeListApi.as_view(), name="pool-message-trees"),
    path("api/v1/pool/claims/", api.PoolClaimListApi.as_view(), name="pool-claims"),
    path("api/v1/pool/<str:kind>/", api.PoolKindUnknownApi.as_view(), name="pool-unknown-kind"),
    path("me/tokens/", views.api_tokens_page, name="tokens"),
    path("me/tokens/<int:token_id>/revoke/", views.api_token_revoke_view, name="token-revoke"),
]

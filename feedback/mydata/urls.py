"""My data: /me/data/ and what hangs off it (names are in the "feedback" namespace)."""

from django.urls import path

from feedback.mydata import views

urlpatterns = [
    path("me/data/", views.my_data_page, name="my_data"),
    path("me/data/export.json", views.my_data_export, name="my_data_export"),
    path("me/data/erase/", views.my_account_erase, name="my_account_erase"),
    path("me/data/<slug:kind>/<int:item_id>/edit/", views.my_item_edit, name="my_item_edit"),
    path("me/data/<slug:kind>/<int:item_id>/delete/", views.my_item_delete, name="my_item_delete"),
]

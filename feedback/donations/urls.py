from django.urls import path

from feedback.donations import views

urlpatterns = [
    path("donate/", views.donations_page, name="donations"),
    path("donate/<int:donation_id>/", views.donation_review_page, name="donation_review"),
    path("donate/<int:donation_id>/turns/<int:index>/", views.donation_turn_toggle, name="donation_turn_toggle"),
    path("donate/<int:donation_id>/turns/<int:index>/edit/", views.donation_turn_edit, name="donation_turn_edit"),
    path("donate/<int:donation_id>/donate/", views.donation_donate, name="donation_donate"),
    path("donate/<int:donation_id>/delete/", views.donation_delete, name="donation_delete"),
]

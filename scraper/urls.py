from django.urls import path

from scraper import views

app_name = "scraper"

urlpatterns = [
    path("api/mirror/<int:link_id>/", views.mirror, name="mirror"),
]

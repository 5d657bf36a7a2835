from django.urls import path

from catalog import views

app_name = "catalog"

urlpatterns = [
    path("", views.home, name="home"),
    path("anime/<str:slug>/", views.anime_detail, name="anime"),
    path("episode/<str:slug>/", views.episode_detail, name="episode"),
    path("genres/<str:slug>/", views.genre_detail, name="genre"),
]

from django.urls import path

from catalog import feeds, follow_views, mirror_views, pwa, views

app_name = "catalog"

urlpatterns = [
    path("", views.home, name="home"),
    path("ongoing/", views.ongoing, name="ongoing"),
    path("completed/", views.completed, name="completed"),
    path("anime/", views.anime_index, name="anime_index"),
    path("anime/<str:slug>/", views.anime_detail, name="anime"),
    path("anime/<str:slug>/feed/", feeds.AnimeEpisodesFeed(), name="anime_feed"),
    path("episode/<str:slug>/", views.episode_detail, name="episode"),
    path("genres/", views.genre_index, name="genres"),
    path("genres/<str:slug>/", views.genre_detail, name="genre"),
    path("jadwal/", views.jadwal, name="jadwal"),
    path("jadwal/kalender.ics", follow_views.calendar, name="calendar"),
    path("diikuti/", follow_views.diikuti, name="diikuti"),
    path("diikuti/episode-terbaru/", follow_views.followed_episodes, name="followed_episodes"),
    path("search/", views.search, name="search"),
    path("acak/", views.random_anime, name="random"),
    path("feed/", feeds.LatestEpisodesFeed(), name="feed"),
    path("bahasa/<str:code>/", views.set_language, name="set_language"),
    # Installable site and Web Push (catalog/pwa.py); the worker at the root for its scope.
    path("manifest.webmanifest", pwa.manifest, name="manifest"),
    path("sw.js", pwa.service_worker, name="service_worker"),
    path("offline/", pwa.offline, name="offline"),
    path("push/key/", pwa.push_key, name="push_key"),
    path("push/subscription/", pwa.push_subscription, name="push_subscription"),
    # "Lapor rusak" (catalog/mirror_views.py): under /api/, never cached by nginx.
    path("api/token/", mirror_views.csrf_token, name="csrf_token"),
    path("api/mirror/<int:link_id>/lapor/", mirror_views.report_mirror, name="report_mirror"),
]

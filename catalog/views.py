"""Viewer pages. (Foundation: the empty-state home; the full site comes with issue 6.)"""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from catalog.models import Anime, Episode, Genre


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "catalog/home.html", {"anime_count": Anime.objects.count()})


def anime_detail(request: HttpRequest, slug: str) -> HttpResponse:
    anime = get_object_or_404(Anime, slug=slug)
    return render(request, "catalog/home.html", {"anime": anime})


def episode_detail(request: HttpRequest, slug: str) -> HttpResponse:
    episode = get_object_or_404(Episode, slug=slug)
    return render(request, "catalog/home.html", {"episode": episode})


def genre_detail(request: HttpRequest, slug: str) -> HttpResponse:
    genre = get_object_or_404(Genre, slug=slug)
    return render(request, "catalog/home.html", {"genre": genre})

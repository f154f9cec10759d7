from django.apps import AppConfig


class BlogConfig(AppConfig):
    name = "tests.blog"
    label = "blog"

    def ready(self):
        import edge_cache

        from .models import Author, Category, Post, Tag

        # A post page shows its category's name, its author's name and its tags: a change to any
        # of those purges the post's pages (blog.post.<pk>), nothing else.
        edge_cache.register(
            Post,
            urls=lambda post: [post.get_absolute_url()],
            tags=lambda post: [edge_cache.tag(Category, post.category_id, "posts")],
            depends_on={Category: "category", Author: "author", Tag: "tags"},
        )
        edge_cache.register(Category)

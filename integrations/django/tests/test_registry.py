"""register(): what each kind of change purges, and the helpers for writes without signals."""

from django.test import TestCase

import edge_cache
from edge_cache.testing import capture_purges

from .blog.models import Author, Category, Post, Tag

SITE = "https://www.example.com"


class RegistryTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.news = Category.objects.create(name="News", slug="news")
        cls.sport = Category.objects.create(name="Sport", slug="sport")
        cls.ann = Author.objects.create(name="Ann")
        cls.post = Post.objects.create(title="Hello", category=cls.news, author=cls.ann)
        cls.other = Post.objects.create(title="Other", category=cls.sport)

    def change(self, action):
        """The purges committed by action(), as one flattened set of tags and files."""
        with capture_purges() as purges, self.captureOnCommitCallbacks(execute=True):
            action()
        return set(purges.tags), set(purges.files), len(purges)

    def test_update_purges_the_object_its_url_and_extra_tags(self):
        self.post.title = "Changed"
        tags, files, batches = self.change(self.post.save)
        self.assertEqual(tags, {"blog.post.%d" % self.post.pk, "blog.category.%d.posts" % self.news.pk})
        self.assertEqual(files, {SITE + "/posts/%d/" % self.post.pk})
        self.assertEqual(batches, 1)

    def test_creation_purges_its_own_url_and_the_list_tag(self):
        created = []
        tags, files, _ = self.change(lambda: created.append(Post.objects.create(title="New", category=self.sport)))
        post = created[0]
        self.assertIn(SITE + "/posts/%d/" % post.pk, files)  # no stale cached 404
        self.assertIn("blog.post", tags)
        self.assertIn("blog.category.%d.posts" % self.sport.pk, tags)

    def test_a_dependency_purges_the_objects_that_show_it_not_every_page_of_it(self):
        self.news.name = "World"
        tags, files, _ = self.change(self.news.save)
        self.assertIn("blog.post.%d" % self.post.pk, tags)  # shows the category's name
        self.assertNotIn("blog.post.%d" % self.other.pk, tags)
        self.assertIn("blog.category.%d" % self.news.pk, tags)  # Category is registered too
        self.assertEqual(files, {SITE + "/categories/%d/" % self.news.pk})

    def test_author_rename_purges_only_their_posts(self):
        self.ann.name = "Anne"
        tags, files, _ = self.change(self.ann.save)
        self.assertEqual(tags, {"blog.post.%d" % self.post.pk})
        self.assertEqual(files, set())

    def test_delete_purges_before_the_row_is_gone(self):
        pk = self.post.pk
        tags, files, _ = self.change(self.post.delete)
        self.assertIn("blog.post.%d" % pk, tags)
        self.assertIn("blog.post", tags)
        self.assertIn(SITE + "/posts/%d/" % pk, files)

    def test_deleting_an_author_purges_their_posts_before_set_null(self):
        tags, _, _ = self.change(self.ann.delete)
        self.assertEqual(tags, {"blog.post.%d" % self.post.pk})

    def test_cascade_delete_is_one_batch(self):
        for i in range(50):
            Post.objects.create(title="P%d" % i, category=self.news)
        tags, _, batches = self.change(self.news.delete)
        self.assertEqual(batches, 1)
        self.assertEqual(len([t for t in tags if t.startswith("blog.post.")]), 51)

    def test_m2m_add_remove_clear_purge_both_sides(self):
        python = Tag.objects.create(name="python")
        tags, _, _ = self.change(lambda: self.post.tags.add(python))
        self.assertIn("blog.post.%d" % self.post.pk, tags)
        tags, _, _ = self.change(lambda: python.posts.add(self.other))  # reverse side
        self.assertIn("blog.post.%d" % self.other.pk, tags)
        tags, _, _ = self.change(lambda: self.post.tags.remove(python))
        self.assertIn("blog.post.%d" % self.post.pk, tags)
        tags, _, _ = self.change(python.posts.clear)
        self.assertIn("blog.post.%d" % self.other.pk, tags)

    def test_tag_rename_purges_tagged_posts(self):
        python = Tag.objects.create(name="python")
        self.post.tags.add(python)
        python.name = "Python 3"
        tags, _, _ = self.change(python.save)
        self.assertEqual(tags, {"blog.post.%d" % self.post.pk})

    def test_update_helper(self):
        tags, _, batches = self.change(
            lambda: self.assertEqual(edge_cache.update(Post.objects.filter(category=self.news), category=self.sport), 1))
        self.assertEqual(batches, 1)
        self.assertIn("blog.post.%d" % self.post.pk, tags)
        self.assertIn("blog.category.%d.posts" % self.sport.pk, tags)  # the list it moved to

    def test_bulk_create_helper(self):
        tags, files, batches = self.change(
            lambda: edge_cache.bulk_create(Post, [Post(title="B%d" % i, category=self.news) for i in range(3)]))
        self.assertEqual(batches, 1)
        self.assertIn("blog.post", tags)
        self.assertIn("blog.category.%d.posts" % self.news.pk, tags)

    def test_bulk_update_and_purge_objects(self):
        self.post.title = "X"
        tags, _, _ = self.change(lambda: edge_cache.bulk_update([self.post], ["title"]))
        self.assertIn("blog.post.%d" % self.post.pk, tags)
        tags, _, _ = self.change(lambda: edge_cache.purge_objects(Author.objects.all()))
        self.assertIn("blog.post.%d" % self.post.pk, tags)  # Author is a dependency

    def test_raw_saves_are_ignored(self):
        tags, _, batches = self.change(lambda: Post.save_base(self.post, raw=True))
        self.assertEqual(batches, 0)

    def test_a_failing_url_callable_falls_back_to_the_model_tag(self):
        edge_cache.register(Author, urls=lambda a: 1 / 0)
        try:
            with self.assertLogs("edge_cache", "ERROR"):
                tags, _, _ = self.change(self.ann.save)
            self.assertIn("blog.author", tags)
            self.assertIn("blog.post.%d" % self.post.pk, tags)  # the dependency still works
        finally:
            edge_cache.unregister(Author)

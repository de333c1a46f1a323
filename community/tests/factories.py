import factory
from django.utils import timezone

from community.models import Community, Membership, User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    role = User.Role.VOLUNTEER
    password = factory.django.Password("a-long-test-password")


class CommunityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Community

    name = factory.Sequence(lambda n: f"Community {n}")
    slug = factory.Sequence(lambda n: f"community-{n}")
    description = "People who care about good answers."


class MembershipFactory(factory.django.DjangoModelFactory):
    """A member who accepted the community's current licence."""

    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    community = factory.SubFactory(CommunityFactory)
    licence_name = factory.SelfAttribute("community.licence_name")
    licence_version = factory.SelfAttribute("community.licence_version")
    licence_accepted_at = factory.LazyFunction(timezone.now)

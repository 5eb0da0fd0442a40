import factory

from revops.models import Team, User


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"Team {n}")
    kind = Team.Kind.SALES


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    role = User.Role.REP
    team = factory.SubFactory(TeamFactory)
    password = factory.django.Password("secret-pass-123")


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "crm.Account"

    name = factory.Sequence(lambda n: f"Account {n}")
    domain = factory.Sequence(lambda n: f"account{n}.example")
    industry = "Software"
    country = "Iran"


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "crm.Contact"

    account = factory.SubFactory(AccountFactory)
    first_name = factory.Sequence(lambda n: f"First{n}")
    last_name = "Person"
    email = factory.Sequence(lambda n: f"person{n}@example.com")


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "pipeline.Lead"

    first_name = factory.Sequence(lambda n: f"Lead{n}")
    last_name = "Prospect"
    email = factory.Sequence(lambda n: f"lead{n}@prospect.example")
    company = "Prospect Co"
    source = "webinar"


class ActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "crm.Activity"

    kind = "call"
    subject = factory.Sequence(lambda n: f"Call {n}")


def default_pipeline():
    """The migration's "Sales" pipeline (a transactional test's flush removes it)."""
    from pipeline.defaults import ensure_default_pipeline
    from pipeline.models import Pipeline, Stage

    return ensure_default_pipeline(Pipeline, Stage)


def default_stages():
    return {stage.name: stage for stage in default_pipeline().stages.all()}


class OpportunityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "pipeline.Opportunity"

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"Deal {n}")
    pipeline = factory.LazyFunction(default_pipeline)
    stage = factory.LazyAttribute(lambda o: o.pipeline.stages.order_by("position").first())
    amount = 1000
    currency = "USD"

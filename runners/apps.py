from django.apps import AppConfig


class RunnersConfig(AppConfig):
    """Runners of each case type and the actions of generic steps. No models of their own."""

    name = "runners"
    verbose_name = "Runners"

    def ready(self) -> None:
        # The catalog validates a case's content with checks only the runners know: it offers a
        # hook rather than importing this app, which sits above it. Lazy: the registry imports
        # models, which are not importable before the app registry is ready.
        from catalog.steps import register_content_checks
        from runners.gherkin_source import feature_problem
        from runners.registry import action_param_errors

        register_content_checks(action_params=action_param_errors, feature=feature_problem)

"""Date and number formats of the languages where Django's own differ from local practice
(`FORMAT_MODULE_PATH`)."""

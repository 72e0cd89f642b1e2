"""Custom profile fields declared by administrators (Profile.Fields) and plugins
(keystead_user_fields), and the free-form `metadata` object programs keep on a person."""

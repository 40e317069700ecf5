"""The Postfix configuration model: main.cf, master.cf, defaults and expansion."""

#!/usr/bin/env bash
# placeholder: the instance bootstrap (agent/ helper writes it)
exit 0

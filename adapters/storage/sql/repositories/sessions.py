class SqlSessions:
    def __init__(self, executor): pass
